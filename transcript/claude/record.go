package claude

import (
	"encoding/json"
	"strings"
	"time"
)

// record is one transcript line, decoded only as far as the builder needs
// (see parseLine; the json tags name the transcript's members).
type record struct {
	Type              string  `json:"type"`
	Subtype           string  `json:"subtype"`
	UUID              string  `json:"uuid"`
	ParentUUID        *string `json:"parentUuid"`
	LogicalParentUUID string  `json:"logicalParentUuid"`
	IsSidechain       bool    `json:"isSidechain"`
	AgentID           string  `json:"agentId"`
	SessionID         string  `json:"sessionId"`
	Timestamp         string  `json:"timestamp"`
	Version           string  `json:"version"`
	PromptID          string  `json:"promptId"`
	IsMeta            bool    `json:"isMeta"`
	IsCompactSummary  bool    `json:"isCompactSummary"`
	IsAPIErrorMessage bool    `json:"isApiErrorMessage"`
	RequestID         string  `json:"requestId"`
	Cwd               string  `json:"cwd"`
	GitBranch         string  `json:"gitBranch"`
	PermissionMode    string  `json:"permissionMode"`
	Entrypoint        string  `json:"entrypoint"`
	APIBlockIndex     *int    `json:"apiBlockIndex"`

	Message       *message       `json:"message"`
	ToolUseResult *toolUseResult `json:"toolUseResult"`

	// progress records
	Data            *progressData `json:"data"`
	ParentToolUseID string        `json:"parentToolUseID"`
	ToolUseID       string        `json:"toolUseID"`

	// system records
	Content         sysContent   `json:"content"`
	CompactMetadata *compactMeta `json:"compactMetadata"`
	DurationMs      float64      `json:"durationMs"`
	Level           string       `json:"level"`
	APIError        *apiError    `json:"error"`
	RetryAttempt    int          `json:"retryAttempt"`

	// attachment records
	Attachment *attachment `json:"attachment"`

	// api-request-shape records
	Shape *requestShape `json:"shape"`

	// queue-operation
	Operation string `json:"operation"`

	// api-request: params.model and params.max_tokens
	ReqModel  string `json:"-"`
	MaxTokens int64  `json:"-"`

	// cost-state: Claude Code's own usage totals for the session, by model
	ModelUsage map[string]costUsage `json:"modelUsage"`
}

// costUsage is one model's entry in a cost-state record's modelUsage.
type costUsage struct {
	InputTokens              int64 `json:"inputTokens"`
	OutputTokens             int64 `json:"outputTokens"`
	ThinkingTokens           int64 `json:"thinkingTokens"`
	CacheReadInputTokens     int64 `json:"cacheReadInputTokens"`
	CacheCreationInputTokens int64 `json:"cacheCreationInputTokens"`
}

type message struct {
	ID         string  `json:"id"`
	Model      string  `json:"model"`
	Role       string  `json:"role"`
	StopReason *string `json:"stop_reason"`
	Content    content `json:"content"`
	Usage      *usage  `json:"usage"`
	// Truncated: content past a per-line bound was dropped (see lineBudget).
	Truncated bool `json:"-"`
}

type usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	CacheCreation            *struct {
		Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	OutputTokensDetails *struct {
		ThinkingTokens int64 `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
}

// content is a message's content: a plain string or an array of blocks
// (decoded by decodeContent).
type content struct {
	Text   string
	IsText bool
	Blocks []block
	// Dropped counts the blocks not kept (see lineBudget).
	Dropped int
}

type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   content         `json:"content"`
	IsError   bool            `json:"is_error"`
	Source    *imageSource    `json:"source"`
}

// maxInlineImage is the largest base64 image kept inline in a message part;
// larger ones become a placeholder naming type and size.
const maxInlineImage = 16 << 10

type imageSource struct {
	Type      string     `json:"type"`
	MediaType string     `json:"media_type"`
	Data      cappedData `json:"data"`
}

// cappedData keeps a JSON string only when it is small, and its size always.
type cappedData struct {
	Size int
	Data string
}

// toolUseResult is the sibling of message on tool_result lines: a string on
// errors, an object otherwise (we keep only the few fields we use).
type toolUseResult struct {
	Str    string `json:"-"`
	IsStr  bool   `json:"-"`
	Status string `json:"status"`
	// AgentID links a Task/Agent result to the subagent it ran.
	AgentID         string  `json:"agentId"`
	TotalDurationMs float64 `json:"totalDurationMs"`
	Interrupted     bool    `json:"interrupted"`
}

type progressData struct {
	Type    string `json:"type"`
	AgentID string `json:"agentId"`
	// hook_progress
	HookEvent string `json:"hookEvent"`
}

// sysContent is a system record's content: usually a string.
type sysContent struct{ Text string }

type compactMeta struct {
	Trigger    string  `json:"trigger"`
	PreTokens  int64   `json:"preTokens"`
	PostTokens int64   `json:"postTokens"`
	DurationMs float64 `json:"durationMs"`
	// PreservedMessages lists the messages a partial compaction kept.
	PreservedMessages *struct {
		UUIDs []string `json:"uuids"`
	} `json:"preservedMessages"`
}

type apiError struct {
	Status int `json:"status"`
	Error  *struct {
		Type  string `json:"type"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"error"`
}

type attachment struct {
	Type         string          `json:"type"`
	SystemPrompt json.RawMessage `json:"systemPrompt"`
	Tools        json.RawMessage `json:"tools"`
}

type requestShape struct {
	System json.RawMessage `json:"system"`
	Tools  json.RawMessage `json:"tools"`
}

// parseLine decodes one transcript line. It never panics; a line that is not
// a JSON object yields an error. Only the members the builder uses are
// decoded, and the big ones only for the record types that need them.
func parseLine(line []byte) (*record, error) {
	var r record
	var msg, tur, data, cont, cmeta, apiErr, att, shape, params, musage []byte
	err := eachField(line, func(k, v []byte) {
		switch string(k) {
		case "type":
			r.Type = jstr(v)
		case "subtype":
			r.Subtype = jstr(v)
		case "uuid":
			r.UUID = jstr(v)
		case "parentUuid":
			if len(v) > 0 && v[0] == '"' {
				s := jstr(v)
				r.ParentUUID = &s
			}
		case "logicalParentUuid":
			r.LogicalParentUUID = jstr(v)
		case "isSidechain":
			r.IsSidechain = jbool(v)
		case "agentId":
			r.AgentID = jstr(v)
		case "sessionId":
			r.SessionID = jstr(v)
		case "timestamp":
			r.Timestamp = jstr(v)
		case "version":
			r.Version = jstr(v)
		case "promptId":
			r.PromptID = jstr(v)
		case "isMeta":
			r.IsMeta = jbool(v)
		case "isCompactSummary":
			r.IsCompactSummary = jbool(v)
		case "isApiErrorMessage":
			r.IsAPIErrorMessage = jbool(v)
		case "requestId":
			r.RequestID = jstr(v)
		case "cwd":
			r.Cwd = jstr(v)
		case "gitBranch":
			r.GitBranch = jstr(v)
		case "permissionMode":
			r.PermissionMode = jstr(v)
		case "entrypoint":
			r.Entrypoint = jstr(v)
		case "apiBlockIndex":
			if len(v) > 0 && v[0] >= '0' && v[0] <= '9' {
				n := jint(v)
				r.APIBlockIndex = &n
			}
		case "parentToolUseID":
			r.ParentToolUseID = jstr(v)
		case "toolUseID":
			r.ToolUseID = jstr(v)
		case "level":
			r.Level = jstr(v)
		case "durationMs":
			r.DurationMs = jfloat(v)
		case "retryAttempt":
			r.RetryAttempt = jint(v)
		case "operation":
			r.Operation = jstr(v)
		case "message":
			msg = v
		case "toolUseResult":
			tur = v
		case "data":
			data = v
		case "content":
			cont = v
		case "compactMetadata":
			cmeta = v
		case "error":
			apiErr = v
		case "attachment":
			att = v
		case "shape":
			shape = v
		case "params":
			params = v
		case "modelUsage":
			musage = v
		}
	})
	if err != nil {
		return nil, err
	}
	switch r.Type {
	case "user", "assistant":
		if isObject(msg) {
			r.Message = new(message)
			if err := decodeMessage(msg, r.Message); err != nil {
				return nil, err
			}
		}
		if r.Type == "user" && len(tur) > 0 {
			r.ToolUseResult = parseToolUseResult(tur)
		}
	case "progress":
		if isObject(data) {
			r.Data = new(progressData)
			_ = eachField(data, func(k, v []byte) {
				switch string(k) {
				case "type":
					r.Data.Type = jstr(v)
				case "agentId":
					r.Data.AgentID = jstr(v)
				case "hookEvent":
					r.Data.HookEvent = jstr(v)
				}
			})
		}
	case "system":
		r.Content.Text = jstr(cont)
		if isObject(cmeta) {
			r.CompactMetadata = new(compactMeta)
			_ = json.Unmarshal(cmeta, r.CompactMetadata)
		}
		if isObject(apiErr) {
			r.APIError = new(apiError)
			_ = json.Unmarshal(apiErr, r.APIError)
		}
	case "attachment":
		if isObject(att) {
			var typ string
			_ = eachField(att, func(k, v []byte) {
				if string(k) == "type" {
					typ = jstr(v)
				}
			})
			r.Attachment = &attachment{Type: typ}
			if typ == "prompt_snapshot" {
				_ = json.Unmarshal(att, r.Attachment)
			}
		}
	case "api-request":
		if isObject(params) {
			_ = eachField(params, func(k, v []byte) {
				switch string(k) {
				case "model":
					r.ReqModel = jstr(v)
				case "max_tokens":
					r.MaxTokens = int64(jint(v))
				}
			})
		}
	case "cost-state":
		if isObject(musage) {
			_ = json.Unmarshal(musage, &r.ModelUsage)
		}
	case "api-request-shape":
		if isObject(shape) {
			r.Shape = new(requestShape)
			_ = json.Unmarshal(shape, r.Shape)
		}
	}
	return &r, nil
}

// maxResultString caps a string toolUseResult that is decoded (error texts
// are short; a huge one is not an error message we classify).
const maxResultString = 64 << 10

// parseToolUseResult keeps the few members of toolUseResult we use,
// skipping the (often large) rest.
func parseToolUseResult(v []byte) *toolUseResult {
	t := &toolUseResult{}
	switch {
	case len(v) > 0 && v[0] == '"':
		t.IsStr = true
		if len(v) <= maxResultString {
			t.Str = jstr(v)
		} else {
			t.Str = jstr(append(append([]byte(nil), v[:maxResultString]...), '"'))
		}
	case isObject(v):
		_ = eachField(v, func(k, val []byte) {
			switch string(k) {
			case "status":
				t.Status = jstr(val)
			case "agentId":
				t.AgentID = jstr(val)
			case "totalDurationMs":
				t.TotalDurationMs = jfloat(val)
			case "interrupted":
				t.Interrupted = jbool(val)
			}
		})
	}
	return t
}

// parseTime parses the transcript's ISO-8601 timestamps; zero on failure.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// promptKind classifies the text of a user line.
type promptKind int

const (
	notPrompt    promptKind = iota
	realPrompt              // typed (or injected) user prompt: opens a turn
	commandLine             // <command-name>… wrapper: a turn only if the model answers
	interruption            // [Request interrupted by user…]
)

func classifyUserText(s string) promptKind {
	t := strings.TrimLeft(s, " \t\r\n")
	switch {
	case strings.HasPrefix(t, "[Request interrupted by user"):
		return interruption
	case strings.HasPrefix(t, "<local-command-"):
		return notPrompt
	case strings.HasPrefix(t, "<command-name>"), strings.HasPrefix(t, "<command-message>"):
		return commandLine
	}
	return realPrompt
}
