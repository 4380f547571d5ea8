"""What the three sample services share: JSON logs, a small HTTP service with /health, clean
shutdown on SIGTERM. Standard library only, so the images need no pip install."""
