"""colsim.limits: refusals name the sizes, the estimate and what bounds the process."""

from __future__ import annotations

import psutil
import pytest

from colsim.errors import ColsimError
from colsim.limits import check_memory, format_bytes, memory_ceiling


def test_what_is_available_passes_and_more_is_refused_in_one_line() -> None:
    check_memory("a small thing", 1 << 20)
    with pytest.raises(ColsimError) as refused:
        check_memory("`iterations` 9 of 'x'", 1 << 60)
    message = str(refused.value)
    assert message.startswith("`iterations` 9 of 'x' needs about 1.02e+03 PiB of memory, more "
                              "than the ")
    assert message.endswith(" available") and "\n" not in message


def test_a_ceiling_refuses_what_would_take_the_process_above_it() -> None:
    resident = psutil.Process().memory_info().rss
    with memory_ceiling(resident + (64 << 20), "the test's ceiling"):
        check_memory("32 MiB", 32 << 20)
        with pytest.raises(ColsimError, match=r"^96 MiB needs about 96 MiB of memory, more "
                                              r"than the .* left below the test's ceiling$"):
            check_memory("96 MiB", 96 << 20)
    check_memory("96 MiB", 96 << 20)  # the ceiling ends with its block


@pytest.mark.parametrize(("nbytes", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (7.45 * 2**30, "7.45 GiB"),
    (3 * 2**50, "3 PiB"), (2**60, "1.02e+03 PiB"),
])
def test_format_bytes(nbytes: float, text: str) -> None:
    assert format_bytes(nbytes) == text
