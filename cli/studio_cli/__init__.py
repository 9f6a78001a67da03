"""The free command line of Studio: the `studio` executable.

It speaks the same HTTP contract as Rasa Pro's `rasa studio` (the Keycloak password grant, the
GraphQL documents of Rasa 3.21's client, the same configuration and token files under
`~/.config/rasa/`), so a project linked with one can be driven by the other.
"""

__version__ = "0.1.0"
