"""snowflake-cortex (port 8002): the agents. Snowflake Cortex when credentials are configured,
otherwise the offline backend (named as such) that needs no account."""
