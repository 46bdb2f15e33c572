"""Single sign-on with OpenID Connect: providers, discovery, the browser flow, ID tokens."""
