"""Judging generated samples with an independent classifier and simple statistics."""

from igebm.evaluation.judge import (FEATURE_DIM, Judge, get_judge, load_judge, read_judge_meta,
                                    save_judge, train_judge)
from igebm.evaluation.metrics import (class_histogram, conditional_accuracy, frechet_distance,
                                      mean_pairwise_distance, mmd_rbf, psnr, sample_quality,
                                      saturation, within_class_diversity)

__all__ = [
    "FEATURE_DIM", "Judge", "get_judge", "load_judge", "read_judge_meta", "save_judge",
    "train_judge", "class_histogram", "conditional_accuracy", "frechet_distance",
    "mean_pairwise_distance", "mmd_rbf", "psnr", "sample_quality", "saturation",
    "within_class_diversity",
]
