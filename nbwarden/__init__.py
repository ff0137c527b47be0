"""nbwarden: a governed execution kernel for Jupyter."""

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from nbwarden.server_extension.app import NBWardenExtension

    return [{"module": "nbwarden.server_extension.app", "app": NBWardenExtension}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nbwarden"}]
