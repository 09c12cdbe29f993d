import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SnapshotHeader(_message.Message):
    __slots__ = ("version", "sha256", "signature", "format")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    version: int
    sha256: str
    signature: bytes
    format: str
    def __init__(self, version: _Optional[int] = ..., sha256: _Optional[str] = ..., signature: _Optional[bytes] = ..., format: _Optional[str] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: SnapshotHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[SnapshotHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Problem(_message.Message):
    __slots__ = ("path", "code", "message", "severity")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    path: str
    code: str
    message: str
    severity: str
    def __init__(self, path: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., severity: _Optional[str] = ...) -> None: ...

class ValidationReport(_message.Message):
    __slots__ = ("valid", "version", "sha256", "problems", "counts", "compile_seconds", "code", "reason")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    VALID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    COMPILE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    version: int
    sha256: str
    problems: _containers.RepeatedCompositeFieldContainer[Problem]
    counts: _containers.ScalarMap[str, int]
    compile_seconds: float
    code: str
    reason: str
    def __init__(self, valid: _Optional[bool] = ..., version: _Optional[int] = ..., sha256: _Optional[str] = ..., problems: _Optional[_Iterable[_Union[Problem, _Mapping]]] = ..., counts: _Optional[_Mapping[str, int]] = ..., compile_seconds: _Optional[float] = ..., code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PushSnapshotResponse(_message.Message):
    __slots__ = ("accepted", "unchanged", "active_version", "report", "persist_error")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    PERSIST_ERROR_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    unchanged: bool
    active_version: int
    report: ValidationReport
    persist_error: str
    def __init__(self, accepted: _Optional[bool] = ..., unchanged: _Optional[bool] = ..., active_version: _Optional[int] = ..., report: _Optional[_Union[ValidationReport, _Mapping]] = ..., persist_error: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SidecarStatus(_message.Message):
    __slots__ = ("serving", "version", "sha256", "loaded_at", "source", "compile_seconds", "counts", "last_error", "activation_id", "highest_version", "previous_version")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SERVING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COMPILE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_ID_FIELD_NUMBER: _ClassVar[int]
    HIGHEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    serving: bool
    version: int
    sha256: str
    loaded_at: _timestamp_pb2.Timestamp
    source: str
    compile_seconds: float
    counts: _containers.ScalarMap[str, int]
    last_error: str
    activation_id: int
    highest_version: int
    previous_version: int
    def __init__(self, serving: _Optional[bool] = ..., version: _Optional[int] = ..., sha256: _Optional[str] = ..., loaded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., compile_seconds: _Optional[float] = ..., counts: _Optional[_Mapping[str, int]] = ..., last_error: _Optional[str] = ..., activation_id: _Optional[int] = ..., highest_version: _Optional[int] = ..., previous_version: _Optional[int] = ...) -> None: ...
