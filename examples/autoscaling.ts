// Autoscaling with scale to zero: a model that takes 50 ms a request keeps about two requests
// in flight per replica, between 0 and 4 replicas. Idle, it has none; the first request waits
// while one starts (well under a second), load adds replicas, and when it ends they go.
//   curl http://127.0.0.1:8000/
import { serve } from "tsserve";

export const Model = serve.deployment(class Model {
  async call(): Promise<string> {
    await new Promise((r) => setTimeout(r, 50));
    return serve.getReplicaContext().replicaId;
  }
}, {
  autoscalingConfig: {
    minReplicas: 0,
    maxReplicas: 4,
    targetOngoingRequests: 2,
    upscaleDelayMs: 500,
    downscaleDelayMs: 2_000,
    downscaleToZeroDelayMs: 3_000,
    lookBackPeriodMs: 1_000,
  },
});

export const app = Model.bind();

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  const replicas = async () => (await serve.status()).applications.default!.deployments.Model!.currentReplicas;
  console.log(`idle: ${await replicas()} replicas`); // idle: 0 replicas
  const t0 = performance.now();
  await handle.remote();
  console.log(`first answer after ${(performance.now() - t0).toFixed(0)} ms`); // from zero: a replica started for it
  // Eight callers, one request after another, for three seconds: 8 in flight / 2 per replica = 4.
  let busy = true;
  const callers = Array.from({ length: 8 }, async () => {
    while (busy) await handle.remote();
  });
  for (let s = 0; s < 3; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`loaded, ${s + 1} s: ${await replicas()} replicas`);
  }
  busy = false;
  await Promise.all(callers);
  for (let s = 0; s < 6; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`idle, ${s + 1} s: ${await replicas()} replicas`); // down to 1, then 0
  }
  console.log((await serve.status()).applications.default!.deployments.Model!.autoscaling!.lastDecision);
  await serve.shutdown();
}
