from motifbench.cli import run

run()
