"""Stories the chapters tell, each a small world on the simulated clock: build it, break it, measure.

One module per story; a notebook imports the module it needs (`from kube_teach.scenarios import
declarative`). Scenarios use the library; the library never uses them.
"""
