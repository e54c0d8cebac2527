"""Optimizers with the lecture's update rules."""

from .optimizer import SGD, GradientDescent, Optimizer

__all__ = ["Optimizer", "GradientDescent", "SGD"]
