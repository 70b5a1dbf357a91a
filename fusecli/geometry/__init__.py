"""Putting frames on one pixel grid: bracket and focus-stack alignment, infrared-to-visible registration, rig-warp estimation, deghosting."""
