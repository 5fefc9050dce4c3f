import { z } from 'zod';
import { MessageSchema, ToolCallSchema, ToolSpecSchema } from './message.ts';
import { RewardBreakdownSchema } from './reward.ts';
import { EpisodeTurnSchema } from './episode-turn.ts';
import { TaskSchema } from './task.ts';
import { TrajectoryGroupSchema, TrajectorySchema, TurnSchema } from './trajectory.ts';

/** The schemas that cross a process boundary, by name. */
export const WireSchemas = {
  Task: TaskSchema,
  ToolSpec: ToolSpecSchema,
  ToolCall: ToolCallSchema,
  Message: MessageSchema,
  Turn: TurnSchema,
  RewardBreakdown: RewardBreakdownSchema,
  Trajectory: TrajectorySchema,
  TrajectoryGroup: TrajectoryGroupSchema,
  EpisodeTurn: EpisodeTurnSchema,
} as const;

/** JSON Schemas of the wire types, for clients in other languages. */
export function protocolJsonSchemas(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(WireSchemas).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })]),
  );
}
