"""User-supplied transformation functions, applied to each event before it is mapped."""

from connector.transforms.chain import MAX_ABANDONED_CALLS, TransformChain
from connector.transforms.context import KeyValueStore, TransformContext
from connector.transforms.loading import Transform, load_functions

__all__ = ["MAX_ABANDONED_CALLS", "KeyValueStore", "Transform", "TransformChain", "TransformContext", "load_functions"]
