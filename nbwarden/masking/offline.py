"""Keep third-party libraries from reaching the network at run time."""

from __future__ import annotations


def use_bundled_suffix_list() -> None:
    """Point tldextract (used by Presidio's e-mail and URL recognizers) at its bundled
    public-suffix snapshot, so it never downloads the list."""
    import tldextract
    import tldextract.tldextract as module

    if module.TLD_EXTRACTOR.suffix_list_urls:
        module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
