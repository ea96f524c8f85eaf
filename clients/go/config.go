package konorkestra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// Meta is the revision and provenance of the value the agent serves for a key.
type Meta struct {
	Key string `json:"key"`
	// Revision is the KV revision; it only grows, across agent restarts too.
	Revision      uint64    `json:"revision"`
	SHA256        string    `json:"sha256"`
	UpdatedAt     time.Time `json:"updatedAt"`
	SourcePath    string    `json:"sourcePath"`
	GitCommit     string    `json:"gitCommit"`
	GitAuthor     string    `json:"gitAuthor"`
	ChangeSetID   string    `json:"changeSetId"`
	ChangeSetSize int       `json:"changeSetSize"`
	PublishedBy   string    `json:"publishedBy"`
	// Origin is "nats", or "snapshot" while NATS has not confirmed the agent's on-disk value.
	Origin string `json:"origin"`
	Stale  bool   `json:"stale"`
	// Deleted: the key was deleted at its source; its last value is still served.
	Deleted bool `json:"deleted"`
	// Refused is a newer revision the agent refused; the value served is still this Revision.
	Refused *Refusal `json:"refused,omitempty"`
	// PendingRevision is a newer revision received but not yet current (0: none).
	PendingRevision uint64 `json:"pendingRevision,omitempty"`
}

// Refusal describes a revision the agent did not take.
type Refusal struct {
	Revision uint64 `json:"revision"`
	Reason   string `json:"reason"`
	Code     string `json:"code"`
}

// view is the agent's answer for one key.
type view struct {
	Meta
	Value json.RawMessage `json:"value"`
}

// parseView checks an answer against the agent's contract: a JSON object with the key asked
// for, a positive revision and a value.
func parseView(body []byte, key string) (view, error) {
	var v view
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return v, malformed("config %s: answer is not a JSON object: %q", key, clip(body))
	}
	for _, f := range []string{"key", "revision", "value"} {
		if _, ok := probe[f]; !ok {
			return v, malformed("config %s: answer has no %q field", key, f)
		}
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return v, malformed("config %s: answer does not fit the contract: %v", key, err)
	}
	if v.Key != key {
		return v, malformed("config %s: answer is for key %q", key, v.Key)
	}
	if v.Revision == 0 {
		return v, malformed("config %s: answer has revision 0", key)
	}
	if v.Refused != nil && v.Refused.Revision == v.Revision {
		return v, malformed("config %s: revision %d served as current and refused", key, v.Revision)
	}
	return v, nil
}

func decodeValue(key string, rev uint64, raw json.RawMessage, into any) error {
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return &Error{Code: CodeDecode, Message: fmt.Sprintf("config %s revision %d does not decode into %T: %v", key, rev, into, err), Err: err}
	}
	return nil
}

// GetConfig reads the value the agent serves for key into v (a pointer, as for
// json.Unmarshal; nil skips decoding) and returns its revision and provenance.
func (c *Client) GetConfig(ctx context.Context, key string, v any) (Meta, error) {
	vw, _, err := c.getView(ctx, "/v1/config/"+url.PathEscape(key), key)
	if err != nil {
		return Meta{}, err
	}
	return vw.Meta, decodeValue(key, vw.Revision, vw.Value, v)
}

// WaitConfig long-polls the agent (`?wait=after`): it returns as soon as key's revision is
// above after (changed true, v decoded), or after timeout (at most 300 s; 0 = the agent's 60 s)
// with changed false and v untouched.
func (c *Client) WaitConfig(ctx context.Context, key string, after uint64, timeout time.Duration, v any) (meta Meta, changed bool, err error) {
	q := url.Values{"wait": {strconv.FormatUint(after, 10)}}
	if timeout > 0 {
		q.Set("timeout", strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64))
	}
	vw, status, err := c.getView(ctx, "/v1/config/"+url.PathEscape(key)+"?"+q.Encode(), key)
	if err != nil {
		return Meta{}, false, err
	}
	if status == http.StatusNotModified {
		return vw.Meta, false, nil
	}
	if vw.Revision <= after {
		return Meta{}, false, malformed("config %s: long-poll after %d answered revision %d", key, after, vw.Revision)
	}
	return vw.Meta, true, decodeValue(key, vw.Revision, vw.Value, v)
}

func (c *Client) getView(ctx context.Context, path, key string) (view, int, error) {
	res, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return view{}, 0, err
	}
	defer res.Body.Close()
	body, err := readBody(res)
	if err != nil {
		return view{}, 0, err
	}
	switch res.StatusCode {
	case http.StatusOK:
		vw, err := parseView(body, key)
		return vw, res.StatusCode, err
	case http.StatusNotModified:
		rev, err := strconv.ParseUint(res.Header.Get("Kon-Revision"), 10, 64)
		if err != nil {
			return view{}, 0, malformed("config %s: 304 without a Kon-Revision", key)
		}
		return view{Meta: Meta{Key: key, Revision: rev}}, res.StatusCode, nil
	}
	return view{}, res.StatusCode, agentError(res, body)
}

// LoadFile decodes the JSON file `kon run --render FILE` writes (the value alone) into v.
// Reload it from a handler registered with OnSignal for the signal given to `kon run --signal`.
func LoadFile(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return &Error{Code: CodeNotFound, Message: "cannot read rendered config: " + err.Error(), Err: err}
	}
	if !json.Valid(raw) {
		return &Error{Code: CodeMalformed, Message: fmt.Sprintf("%s is not JSON: %q", path, clip(raw))}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &Error{Code: CodeDecode, Message: fmt.Sprintf("%s does not decode into %T: %v", path, v, err), Err: err}
	}
	return nil
}
