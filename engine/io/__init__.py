"""The one read policy for untrusted bytes: caps, bounded reads, checked archives and headers.

Every reader of a file GenLoupe did not write itself (data, checkpoints, sample bundles, sessions,
the feature cache) asks here how much it may decompress, allocate or iterate, before it does.
"""

from .archives import check_member_name, check_zip, open_zip, read_member
from .arrays import array_allowance, declared_bytes, load_npy, load_npz, npz_headers, read_header
from .jsontext import parse_json
from .limits import PRODUCTION, ReadLimits, limits
from .streams import gunzip, is_gzip, read_bounded
from .text import describe, one_line

__all__ = [
    "PRODUCTION", "ReadLimits", "array_allowance", "check_member_name", "check_zip", "declared_bytes", "describe",
    "gunzip", "is_gzip", "limits", "load_npy", "load_npz", "npz_headers", "one_line", "open_zip", "parse_json",
    "read_bounded", "read_header", "read_member",
]
