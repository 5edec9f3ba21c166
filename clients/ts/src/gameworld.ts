// The world as a game client reads it: each entity's kind by name and its
// fields by the schema's leaf names with the values of values.ts (booleans,
// real values of quantized fields, strings), built from the delta
// receiver's raw world. Views are made lazily and cached per delta entity:
// an entity that did not change between ticks is the same object, so its
// view is made once.

import type { Schema, SchemaTable } from "./schema.js";
import { type FieldValue, type Values, worldValue } from "./values.js";
import type { Entity, World } from "./world.js";

/** One entity of the game's world at one tick. Immutable. */
export class GameEntity {
  private vals: Values | undefined;

  constructor(
    /** the delta entity (raw values: quanta, bits) */
    readonly raw: Entity,
    /** the entity's table in the schema */
    readonly table: SchemaTable,
  ) {}

  get id(): number { return this.raw.id; }
  /** the owning player's id; 0: none */
  get owner(): number { return this.raw.owner; }
  /** the kind's table name, e.g. "cards.Player" */
  get kind(): string { return this.table.name; }

  /** fields holds every field by leaf name ("pointer.x"). */
  get fields(): Readonly<Values> {
    if (!this.vals) {
      const out: Values = {};
      this.table.fields.forEach((f, i) => (out[f.name] = worldValue(f, this.raw.raw[i]!)));
      this.vals = Object.freeze(out);
    }
    return this.vals;
  }

  /** get returns one field by leaf name; it throws for a name the kind does not have. */
  get(name: string): FieldValue {
    const v = this.fields[name];
    if (v === undefined) throw new Error(`${this.table.name} has no field ${name}`);
    return v;
  }
}

/** A cache of entity views, shared by the worlds of one receiver. */
export class EntityViews {
  private readonly cache = new WeakMap<Entity, GameEntity>();

  constructor(readonly schema: Schema) {}

  view(e: Entity): GameEntity {
    let v = this.cache.get(e);
    if (!v) {
      v = new GameEntity(e, this.schema.entities[e.kind]!);
      this.cache.set(e, v);
    }
    return v;
  }
}

/** The game's world at one tick: entities by ascending id. Immutable. */
export class GameWorld {
  private list: readonly GameEntity[] | undefined;

  constructor(
    /** the delta world (raw values) */
    readonly raw: World,
    private readonly views: EntityViews,
  ) {}

  get tick(): number { return this.raw.tick; }
  get size(): number { return this.raw.size; }

  /** entities holds every entity by ascending id. */
  get entities(): readonly GameEntity[] {
    if (!this.list) this.list = this.raw.entities.map((e) => this.views.view(e));
    return this.list;
  }

  /** get returns the entity with the given id, or undefined. */
  get(id: number): GameEntity | undefined {
    const e = this.raw.get(id);
    return e ? this.views.view(e) : undefined;
  }

  /** ofKind returns the entities of a kind, named in full ("cards.Card") or without the namespace ("Card"). */
  ofKind(kind: string): GameEntity[] {
    return this.entities.filter((e) => e.kind === kind || e.kind.endsWith("." + kind));
  }

  /** ownedBy returns the entities a player owns, by ascending id. */
  ownedBy(player: number): GameEntity[] {
    return this.entities.filter((e) => e.owner === player);
  }
}
