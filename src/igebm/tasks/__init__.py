"""Tasks: pure functions over a trained run, one package per capability.

No argparse, no HTML and no dataset branches here: the CLI (`igebm.cli`) reads
flags and files, the evaluation layer measures, the report layer draws.
- `generation`: sampling from noise, at any number of steps;
- `images`: completion, restoration, cross-class morphing;
- `generalisation`: OOD scores and classification by lowest energy.
"""
