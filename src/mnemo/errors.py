"""Mnemo's exception tree.

Every error a user can meet derives from :class:`MnemoError`. Vendor exceptions
(SQLAlchemy, pdfium, python-docx, ...) are converted at the module that calls
the vendor, so front ends only ever handle this tree::

    MnemoError
    ├── ConfigError        a setting or the settings file is invalid
    ├── CatalogError       the catalog cannot be opened or migrated
    ├── CollectionError    a collection name is invalid or unknown
    │   └── CollectionExistsError  a collection by that name exists already
    ├── DocumentError      a document id is unknown
    ├── SourceError        a path given to add/sync cannot be used
    ├── BusyError          another run holds the collection's write lock
    ├── QueryError         a search query or filter cannot be used
    ├── IndexDamagedError  the search index cannot be read or written
    ├── EmbeddingError     the embedder cannot be loaded or reached
    ├── LLMError           the language model cannot be reached or failed to answer
    ├── ConversationError  a conversation id is unknown
    ├── KeyNotFoundError   an API key id is unknown or already revoked
    ├── JobNotFoundError   an ingestion job id is unknown
    └── LastKeyError       revoking a key would leave no active key
"""

from __future__ import annotations


class MnemoError(Exception):
    """Base class of every error Mnemo reports to a user."""

    exit_code = 1


class ConfigError(MnemoError):
    """A setting, flag or the settings file is invalid."""

    exit_code = 2


class CatalogError(MnemoError):
    """The catalog database cannot be opened, read or migrated."""


class CollectionError(MnemoError):
    """A collection name is invalid or the collection does not exist."""

    exit_code = 2


class CollectionExistsError(CollectionError):
    """A collection by that name exists already."""


class DocumentError(MnemoError):
    """A document id is unknown in the collection."""

    exit_code = 2


class SourceError(MnemoError):
    """A path given to ``add`` or ``sync`` cannot be used."""

    exit_code = 2


class BusyError(MnemoError):
    """Another Mnemo process is writing to the same collection."""

    exit_code = 3


class QueryError(MnemoError):
    """A search query or one of its filters cannot be used."""

    exit_code = 2


class IndexDamagedError(MnemoError):
    """The search index cannot be read or written; it can be rebuilt from the catalog."""


class EmbeddingError(MnemoError):
    """The embedder cannot be loaded, or its service cannot be reached."""


class LLMError(MnemoError):
    """The language model cannot be reached, refused the request, or sent no usable answer.

    ``partial`` holds any text that streamed before the failure.
    """

    exit_code = 4

    def __init__(self, message: str, *, partial: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.partial = partial
        self.retryable = retryable


class TranscriptionError(MnemoError):
    """The transcription server cannot be reached, refused the audio, or heard nothing."""

    exit_code = 4


class ContextWindowError(LLMError):
    """The prompt does not fit the model's context window."""


class ConversationError(MnemoError):
    """A conversation id is unknown."""

    exit_code = 2


class KeyNotFoundError(MnemoError):
    """An API key id is unknown or already revoked."""

    exit_code = 2


class JobNotFoundError(MnemoError):
    """An ingestion job id is unknown."""

    exit_code = 2


class LastKeyError(MnemoError):
    """Revoking the key would leave no active key, which turns a loopback server's
    authentication off; the CLI can do it on purpose (``--no-auth``), HTTP never."""

    exit_code = 2


class MemoryNotFoundError(MnemoError):
    """No memory with that id in this collection (and for this key)."""

    exit_code = 2
