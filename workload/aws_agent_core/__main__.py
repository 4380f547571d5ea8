from workload.aws_agent_core.app import build

build().run_forever()
