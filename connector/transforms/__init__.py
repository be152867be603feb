"""User-supplied transformation functions, applied to each event before it is mapped."""

from connector.transforms.chain import TransformChain
from connector.transforms.context import KeyValueStore, TransformContext
from connector.transforms.loading import load_functions

__all__ = ["KeyValueStore", "TransformChain", "TransformContext", "load_functions"]
