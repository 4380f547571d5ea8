"""aws-agent-core (port 8000): the orchestrator. Forwards /invoke to LANGGRAPH_ENDPOINT."""
