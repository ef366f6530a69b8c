"""Generation: samples from noise by the run's sampler, labelled or not, at any step count."""

from igebm.tasks.generation.sample import generate, generate_at_steps, make_labels, pick_batch_size

__all__ = ["generate", "generate_at_steps", "make_labels", "pick_batch_size"]
