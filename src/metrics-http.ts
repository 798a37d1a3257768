/**
 * An optional HTTP endpoint serving this instance's status as Prometheus text at
 * `/metrics`.
 */
import { createServer, type Server } from "node:http";
import type { StatusSource } from "./api/context.js";
import { prometheusText } from "./status.js";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(status: StatusSource, port: number, address: string): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    if (request.url !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    status.instance().then(
      (instance) => response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(prometheusText(instance)),
      (error: unknown) => response.writeHead(503, { "content-type": "text/plain" }).end(`status unavailable: ${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve());
  });
  const bound = server.address();
  return {
    port: typeof bound === "object" && bound ? bound.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
