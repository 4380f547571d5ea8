from workload.langgraph.app import build

build().run_forever()
