// Storefront's interactive docs: Swagger UI over the spec the server serves. A file of its own,
// not an inline script, so that the page's CSP allows scripts from the server only.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No online validator badge: the docs make no request beyond this server.
  validatorUrl: null,
  // "Try it out" calls the server that serves these docs, whatever the spec's `servers` say
  // (the page's CSP allows no other anyway).
  requestInterceptor: (request) => {
    const url = new URL(request.url, window.location.origin);
    if (url.origin !== window.location.origin) {
      request.url = window.location.origin + url.pathname + url.search;
    }
    return request;
  },
});
