"""The data plane: worker processes that serve devices' TCMU rings, and their supervisor."""
