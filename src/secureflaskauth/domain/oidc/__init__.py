"""The OpenID Connect provider's rules, free of the web framework and of SQL:

- ``clients``: registering relying parties, their secrets and redirect URIs;
- ``codes``: authorization codes, single-use, and what their reuse revokes;
- ``idtokens``: ID tokens signed with the service's key ring (PyJWT);
- ``claims``: the claims of each scope, and ``acr`` from the methods used.

The protocol itself (requests, errors, grants) is authlib's, glued in api/oidc/.
"""
