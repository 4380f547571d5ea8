"""langgraph (port 8001): the supervisor. Routes a request to the snowflake-cortex agents."""
