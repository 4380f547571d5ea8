from workload.snowflake_cortex.app import build

build().run_forever()
