"""PyTorch modules for dilated convolution (filled in by the modules issue)."""
