// Starts GraphiQL against this server. Loaded as a file (not inline) so that the page's
// Content-Security-Policy can forbid inline scripts.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery:
        "# Welcome to the forum's GraphQL API.\n" +
        "# Sign in by adding a header: {\"Authorization\": \"Bearer <token>\"}\n\n" +
        "query FrontPage {\n  viewer { displayName role }\n  categories(first: 20) {\n" +
        "    nodes {\n      slug\n      name\n      threadCount\n      threads(first: 5) {\n" +
        "        nodes { title replyCount lastActivityAt author { displayName } }\n" +
        "      }\n    }\n  }\n}\n",
    })
  );
})();
