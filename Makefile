# Shortcuts for the scripts in scripts/ (the README's commands work without make).
.PHONY: demo test bench data lab clean

demo:            ## set up .venv, generate demo data if missing, publish the demo reports
	bash scripts/demo.sh

test:            ## the whole test suite (what CI runs)
	bash scripts/test.sh

bench:           ## speed and memory benchmarks at scales 1, 10 and 150
	bash scripts/bench.sh

data:            ## regenerate the demo data from scratch
	bash scripts/bootstrap.sh && rm -rf data/demo && .venv/bin/python -m helpers.demo --out data/demo

lab:             ## JupyterLab from the project's environment
	bash scripts/bootstrap.sh && .venv/bin/jupyter lab notebooks/

clean:           ## remove generated data and reports (keeps .venv)
	rm -rf data/demo data/bench reports/*/ reports/index.html
