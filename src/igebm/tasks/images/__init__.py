"""Image tasks: completion, restoration and cross-class morphing, one Langevin chain each.

`complete.complete`, `restore.restore` and `morph.morph` are the operations;
`inputs`, `masks` and `chain` hold what they share.
"""
