/** An in-process instance with the admin API, as `tsserve start` makes it (without its signal handlers). */
import { serve } from "tsserve";
import { mainRuntime } from "../../runtime/main.ts";
import { ConfigApplier, dashboardData, startAdmin } from "../../runtime/admin/index.ts";

export interface AdminInstance extends AsyncDisposable {
  httpUrl: string;
  adminUrl: string;
  token: string;
}

export async function startInstance(token = `t-${crypto.randomUUID()}`): Promise<AdminInstance> {
  await serve.shutdown();
  const { httpUrl } = await serve.start({ http: { port: 0 } });
  const runtime = mainRuntime();
  const admin = startAdmin(
    { host: "127.0.0.1", port: 0 },
    {
      token,
      applier: new ConfigApplier(runtime.controller),
      status: () => serve.status(),
      listening: () => ({ http: {}, admin: {} }),
      shutdown: () => serve.shutdown(),
      baseDir: process.cwd(),
      metrics: () => serve.metrics(),
      dashboard: () => dashboardData(() => serve.status()),
    },
  );
  return {
    httpUrl,
    adminUrl: admin.url,
    token,
    async [Symbol.asyncDispose]() {
      await admin.stop();
      await serve.shutdown();
    },
  };
}
