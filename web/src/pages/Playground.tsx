// The offline GraphQL playground: GraphiQL bundled into this chunk (no CDN), sending the
// console's token in headers and in the subscription's connectionParams.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { useMemo } from "react";
import { freshSession } from "../api/client";
import { graphqlWsUrl } from "../api/live";
import { createClient } from "graphql-ws";

const EXAMPLE = `# Crontopus GraphQL playground: your console session's token is sent for you.
query LatestRuns {
  runs(first: 5) {
    nodes { id jobName status startedAt durationMs }
  }
}

subscription LiveRuns {
  runEvents { kind run { id jobName status } }
}
`;

export default function PlaygroundPage() {
  const fetcher = useMemo(() => {
    const wsClient = createClient({
      url: graphqlWsUrl(),
      lazy: true,
      connectionParams: async () => {
        const session = await freshSession();
        return session ? { authorization: `Bearer ${session.accessToken}` } : {};
      },
    });
    const base = createGraphiQLFetcher({ url: "/graphql", wsClient, enableIncrementalDelivery: false });
    // Each HTTP request takes the current (refreshed) token, not the one at page load.
    return async (params: Parameters<typeof base>[0], options?: Parameters<typeof base>[1]) => {
      const session = await freshSession();
      const headers = { ...(options?.headers ?? {}), ...(session ? { Authorization: `Bearer ${session.accessToken}` } : {}) };
      return base(params, { ...options, headers });
    };
  }, []);
  const theme = document.documentElement.dataset.theme === "dark" ? "dark" : "light";
  return (
    <div className="playground" data-testid="playground">
      <GraphiQL
        fetcher={fetcher}
        defaultQuery={EXAMPLE}
        defaultEditorToolsVisibility={false}
        forcedTheme={theme}
      />
    </div>
  );
}
