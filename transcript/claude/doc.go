// Package claude rebuilds OpenTelemetry GenAI spans from Claude Code
// transcripts (~/.claude/projects/<dir>/<session>.jsonl and its subagent
// files) and Claude Code hook events. It implements transcript.Builder.
//
// One Builder handles one session. Every id is derived (genai.NewTraceID /
// genai.NewSpanID): the trace from the session and the turn key (the
// transcript's promptId, else the uuid of the user record that opened the
// turn), spans from the trace and a key (message.id, tool_use id, agent id,
// "turn"). Replays, restarts, live capture and backfill therefore agree, and
// the builder's whole state is what MarshalState writes.
//
// # Span tree
//
//	invoke_agent claude-code                 one per turn (user prompt)
//	├── chat <model>                         one per response (message.id)
//	├── execute_tool <tool>                  tool_use paired with tool_result
//	│   └── invoke_agent <subagent type>     Task/Agent tool: the subagent run
//	│       ├── chat <model>
//	│       └── execute_tool <tool>
//	└── chat <model> (claude_code.compaction) the compaction's model call
//
// # Reconstruction rules
//
//   - A turn opens at a user line that is a prompt: not isMeta, not
//     isCompactSummary, not a tool_result, not "[Request interrupted…",
//     not <local-command-…>. A <command-name> wrapper opens a turn that is
//     dropped if the model never answers (/model, /mcp …).
//   - A turn is over at the next prompt, an interrupt (error status), a
//     Stop / StopFailure hook once the transcript shows last_assistant_message
//     (or StopWait later), stop_hook_summary / turn_duration, a final
//     response (end_turn, no tool pending) followed by any other record or
//     StopWait of quiet, SessionEnd (+StopWait), or IdleTimeout. Its span
//     waits for its foreground subagents (file known, not yet caught up) and
//     its compaction call, unless it idles out. A closed turn keeps its ids;
//     later lines add children under it; its span is never sent again.
//   - Responses are grouped by message.id, never by adjacency: usage is the
//     maximum per field over its lines, counted once; content blocks are
//     deduplicated by apiBlockIndex. A response is complete (its chat span
//     emitted) when the next response of its thread starts or the thread ends.
//   - A tool span is emitted at its result line; when PostToolUse hooks are
//     seen in the session, it waits up to 500 ms for the hook's duration_ms.
//     Tool calls left without a result by an interrupt or the next prompt are
//     closed as cancelled.
//   - Subagents: 1.0.x inline isSidechain lines (chained by parentUuid from a
//     root whose text is the Task prompt), 2.0.x flat agent-<id>.jsonl, 2.1.x
//     <session>/subagents/agent-<id>.jsonl (+ .meta.json). A subagent is
//     linked to its tool call by .meta.json toolUseId, toolUseResult.agentId,
//     agent_progress (parentToolUseID), or its first prompt equal to the
//     tool's input.prompt; until then its lines are buffered (bounded), then
//     placed by time. agent_progress message copies are never counted.
//     Background agents (async_launched) do not hold their turn; they end at
//     SubagentStop, a <task-notification>, a final response + StopWait, or
//     IdleTimeout.
//   - Compaction: compact_boundary (+ the isCompactSummary text) becomes the
//     weave.compaction.* attributes and a claude_code.compaction event on the
//     turn where it happened (or, after a final answer, on the next turn);
//     agent-acompact-*.jsonl is its chat. Without that file (2.1.3xx
//     /compact) its chat span waits for the next cost-state record: Claude
//     Code's totals less the usage of every other chat are its usage.
//   - Usage is on chat spans only (backends sum it over every span); turn and
//     subagent spans carry none.
//   - Every span names the conversation (gen_ai.conversation.id, session.id,
//     gen_ai.conversation.name: the first prompt's first line, fixed in the
//     state) and its agent (gen_ai.agent.name). A turn carries the system
//     instructions and tool definitions only when they differ from the last
//     ones sent.
//   - Lines whose sessionId differs from the session (a resumed session's
//     copied history) keep the ids of the session they came from.
package claude
