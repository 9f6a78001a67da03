"""Studio's GraphQL endpoint (`/api/graphql/`): the contract of Rasa Pro's `rasa studio` CLI and
Rasa Studio's CI and conversation APIs. `schema.py` puts the apps' types together; `view.py`
serves them; `context.py` is how a resolver learns who asks and reaches an assistant."""
