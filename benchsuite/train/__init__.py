"""Training one network cell: inputs, augmentation, the loop, pre-training, speed."""
