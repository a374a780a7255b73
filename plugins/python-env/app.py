"""The `env` secret provider, written in Python: a reference names an
environment variable.

A port of plugins/env (Rust), built with componentize-py against the same WIT
(wit/0.1.0/reqflo-plugin.wit, world `secret-provider`); see README.md. reqflo
gives a custom provider's sandbox only the variables in its `grants.env`, so
`os.environ` here holds exactly those, read when the sandbox starts (the build
snapshot is taken with an empty environment, so nothing of the build machine's
environment is baked into the component).
"""

import os
from typing import List, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.provider import Error_InvalidReference, Error_NotFound
from wit_world.imports.secrets import Secret


class Provider(exports.Provider):
    """What reqflo calls: `configure` once, then `resolve` per reference."""

    def configure(self, config: List[Tuple[str, str]]) -> None:
        if config:
            key = config[0][0]
            raise Err(
                Error_InvalidReference(
                    f"the env provider takes no configuration, got `{key}`"
                )
            )

    def resolve(self, reference: str) -> Secret:
        # Error messages name the reference, never a value.
        if not reference or "=" in reference or "\0" in reference:
            raise Err(
                Error_InvalidReference(
                    f"`{reference}` is not an environment variable name"
                )
            )
        value = os.environ.get(reference)
        if value is None:
            raise Err(Error_NotFound(f"environment variable {reference} is not set"))
        if value == "":
            raise Err(Error_NotFound(f"environment variable {reference} is empty"))
        # The host keeps the bytes; this sandbox is thrown away after the run.
        return Secret(value.encode("utf-8", "surrogateescape"))
