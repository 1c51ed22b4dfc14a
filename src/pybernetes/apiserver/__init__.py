"""The API server: REST, watch, discovery, OpenAPI, authn/authz/admission over the store."""
