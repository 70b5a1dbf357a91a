"""Network architectures only: one ``*_arch`` module per model, pure tensor code; ``weights`` builds them from configs and stores them."""
