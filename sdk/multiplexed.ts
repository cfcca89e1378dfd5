/**
 * Model multiplexing (API.md section 4): an LRU cache of loaded models. Each replica is a
 * Worker with its own copy of this module, so a cache made at module level is per replica,
 * and one made in a class field is per instance. A module-level registry lets the replica
 * host report the ids it holds, read counters and dispose every model when it stops.
 */
import { getMultiplexedModelId, requestScope } from "./context.ts";
import { show } from "./options.ts";
import { observers } from "./observe.ts";

/** What `serve.multiplexed(loader, options)` accepts. */
export interface MultiplexedOptions {
  /** Models kept per replica (per cache); `-1` for no limit. Default 3. */
  maxNumModelsPerReplica?: number;
}

const DEFAULT_MAX_MODELS = 3;

const stats = { loads: 0, unloads: 0, loadMsTotal: 0 };
/** Caches that hold or are loading at least one model; an empty cache is not kept alive here. */
const live = new Set<ModelCache<unknown>>();
const listeners = new Set<(ids: string[]) => void>();
let lastIds = "[]";

class ModelCache<M> {
  /** Loaded models, least recently used first (a Map keeps insertion order). */
  readonly models = new Map<string, M>();
  readonly loading = new Map<string, Promise<M>>();
  /** Loads and disposals run one at a time, in order. */
  #lock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly loader: (modelId: string) => Promise<M> | M,
    private readonly max: number,
  ) {}

  get(id: string): Promise<M> {
    if (this.models.has(id)) {
      const model = this.models.get(id) as M;
      this.models.delete(id);
      this.models.set(id, model);
      return Promise.resolve(model);
    }
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.#locked(() => this.#load(id));
      this.loading.set(id, pending);
      changed(this);
    }
    return pending;
  }

  /** Disposes every model; resolves to the errors their disposers threw. */
  disposeAll(): Promise<unknown[]> {
    return this.#locked(async () => {
      const errors: unknown[] = [];
      for (const id of [...this.models.keys()]) {
        try {
          await this.#unload(id);
        } catch (err) {
          errors.push(err);
        }
      }
      return errors;
    });
  }

  #locked<V>(task: () => Promise<V>): Promise<V> {
    const run = this.#lock.then(task);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #load(id: string): Promise<M> {
    try {
      // Evicting before loading keeps at most `max` models in memory at once.
      if (this.max !== -1 && this.models.size >= this.max) await this.#unload(this.models.keys().next().value as string);
      const started = performance.now();
      // A load serves every request waiting for it: it must not die with the one that started it.
      const model = await requestScope.exit(() => this.loader(id));
      const ms = performance.now() - started;
      stats.loads++;
      stats.loadMsTotal += ms;
      observers.modelLoaded(ms);
      this.models.set(id, model);
      return model;
    } finally {
      this.loading.delete(id);
      changed(this);
    }
  }

  async #unload(id: string): Promise<void> {
    const model = this.models.get(id);
    this.models.delete(id);
    stats.unloads++;
    changed(this);
    await disposeModel(model);
  }
}

async function disposeModel(model: unknown): Promise<void> {
  if (model === null || (typeof model !== "object" && typeof model !== "function")) return;
  const m = model as Record<PropertyKey, unknown>;
  for (const key of [Symbol.asyncDispose, Symbol.dispose, "dispose"]) {
    if (typeof m[key] === "function") return void (await (m[key] as () => unknown).call(model));
  }
}

function changed(cache: ModelCache<unknown>): void {
  if (cache.models.size > 0 || cache.loading.size > 0) live.add(cache);
  else live.delete(cache);
  const ids = modelIds(true);
  const key = JSON.stringify(ids);
  if (key === lastIds) return;
  lastIds = key;
  for (const listener of listeners) {
    try {
      listener(ids);
    } catch (err) {
      // A faulty listener must not fail the request that loaded a model.
      console.error("tsserve: a model ids listener threw", err);
    }
  }
}

function modelIds(includeLoading: boolean): string[] {
  const ids = new Set<string>();
  for (const cache of live) {
    for (const id of cache.models.keys()) ids.add(id);
    if (includeLoading) for (const id of cache.loading.keys()) ids.add(id);
  }
  return [...ids].sort();
}

/**
 * Wraps a model loader in an LRU cache. The returned function resolves to the model for an id:
 * a hit returns the cached model; a miss loads it (one load at a time per cache; concurrent
 * calls for one id share the load), first evicting the least recently used model when the
 * cache is full. An evicted model's `[Symbol.asyncDispose]()`, `[Symbol.dispose]()` or
 * `dispose()` is awaited; if it throws, the call that caused the eviction rejects with that
 * error. Called with no id, it uses the current request's (`serve.getMultiplexedModelId()`).
 *
 * @example
 * export const Multi = serve.deployment(class Multi {
 *   getModel = serve.multiplexed(async (modelId: string) => loadModel(modelId), { maxNumModelsPerReplica: 10 });
 *   async call(req: Request) {
 *     const model = await this.getModel();      // the request's serve_multiplexed_model_id
 *     return model.predict(await req.json());
 *   }
 * });
 */
export function multiplexed<M>(
  loader: (modelId: string) => Promise<M> | M,
  options: MultiplexedOptions = {},
): (modelId?: string) => Promise<M> {
  if (typeof loader !== "function") {
    throw new TypeError(`serve.multiplexed(): loader must be a function taking the model id, got ${show(loader)}`);
  }
  // `length` is 0 for rest parameters and defaults, so only more than one parameter is refused.
  if (loader.length > 1) {
    throw new TypeError(`serve.multiplexed(): loader must take one parameter, the model id; it declares ${loader.length}`);
  }
  if (options === null || typeof options !== "object") throw new TypeError(`serve.multiplexed(): options must be an object, got ${show(options)}`);
  for (const key of Object.keys(options)) {
    if (key !== "maxNumModelsPerReplica") throw new TypeError(`serve.multiplexed(): unknown option "${key}"; known options: maxNumModelsPerReplica`);
  }
  const max = options.maxNumModelsPerReplica === undefined ? DEFAULT_MAX_MODELS : options.maxNumModelsPerReplica;
  if (!Number.isInteger(max) || (max < 1 && max !== -1)) {
    throw new TypeError(`serve.multiplexed(): maxNumModelsPerReplica must be a positive integer, or -1 for no limit, got ${show(max)}`);
  }
  const cache = new ModelCache(loader, max);
  return async (modelId?: string) => {
    const id = modelId === undefined ? getMultiplexedModelId() : modelId;
    if (modelId === undefined && id === "") {
      throw new TypeError(
        "serve.multiplexed(): no model id was given and the current request has none; pass one, or set it with the " +
          "serve_multiplexed_model_id header or handle.options({ multiplexedModelId })",
      );
    }
    if (typeof id !== "string" || id === "") throw new TypeError(`serve.multiplexed(): the model id must be a non-empty string, got ${show(id)}`);
    observers.modelRequested();
    return cache.get(id);
  };
}

/**
 * Calls `listener` with the sorted ids held or loading across every cache in this replica,
 * each time that set changes (not at once). Returns a function that removes the listener.
 *
 * @example
 * const stop = onModelIdsChanged((ids) => port.send({ k: "models", ids }));
 */
export function onModelIdsChanged(listener: (ids: string[]) => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/**
 * Disposes every cached model (after any load in progress), as a stopping replica does.
 * Every model is disposed even if some disposers throw; then the error (or an
 * `AggregateError` of them) is thrown. The caches stay usable.
 *
 * @example
 * await disposeAllModels();
 */
export async function disposeAllModels(): Promise<void> {
  const errors: unknown[] = [];
  for (const cache of [...live]) errors.push(...(await cache.disposeAll()));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `disposing ${errors.length} multiplexed models failed`);
}

/**
 * Counters since this replica started, for metrics: successful loads, unloads (evictions and
 * disposals), total load time in ms, and the sorted ids loaded now.
 *
 * @example
 * const { loads, loadMsTotal } = multiplexStats();
 * const meanLoadMs = loads ? loadMsTotal / loads : 0;
 */
export function multiplexStats(): { loads: number; unloads: number; loadMsTotal: number; loaded: string[] } {
  return { ...stats, loaded: modelIds(false) };
}
