"""Structure-aware, token-bounded chunking."""

from mnemo.chunking.chunker import ChunkDraft, Chunker, chunk_id
from mnemo.chunking.tokenizer import default_tokenizer_path, load_tokenizer

__all__ = ["ChunkDraft", "Chunker", "chunk_id", "default_tokenizer_path", "load_tokenizer"]
