"""Typed models of the events that reach the functions, validated at the edge. One module per
source, so a handler loads only the models it needs."""
