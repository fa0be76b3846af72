package config

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// EnvPrefix starts every variable clooster reads.
const EnvPrefix = "CLOOSTER_"

// envLayer mirrors Config for github.com/caarlos0/env: one pointer per
// variable, nil when unset. Its fields have the names of Config's, which
// is how collectEnv finds a variable's key; the package doc tells the rules.
type envLayer struct {
	ThisServer  *string `env:"THIS_SERVER"`
	OtherServer *string `env:"OTHER_SERVER"`
	Key         *string `env:"KEY"`
	KeyFile     *string `env:"KEY_FILE"`
	Role        *string `env:"ROLE"`
	Server      struct {
		Address *string `env:"ADDRESS"`
		Port    *int    `env:"PORT"`
		Backlog *int    `env:"BACKLOG"`
		// PeerAddress may be set empty: the look is then off.
		PeerAddress *string `env:"PEER_ADDRESS"`
	} `envPrefix:"SERVER_"`
	Client struct {
		Address *string `env:"ADDRESS"`
		Port    *int    `env:"PORT"`
	} `envPrefix:"CLIENT_"`
	TLS struct {
		Cert        *string `env:"CERT"`
		Key         *string `env:"KEY"`
		CA          *string `env:"CA"`
		Fingerprint *string `env:"FINGERPRINT"`
	} `envPrefix:"TLS_"`
	KeepaliveInterval *Duration `env:"KEEPALIVE_INTERVAL"`
	PeerTimeout       *Duration `env:"PEER_TIMEOUT"`
	FailbackDelay     *Duration `env:"FAILBACK_DELAY"`
	Status            struct {
		Address   *string `env:"ADDRESS"`
		Token     *string `env:"TOKEN"`
		TokenFile *string `env:"TOKEN_FILE"`
	} `envPrefix:"STATUS_"`
	Cloudflare struct {
		Token          *string `env:"TOKEN"`
		TokenFile      *string `env:"TOKEN_FILE"`
		Key            *string `env:"KEY"`
		KeyFile        *string `env:"KEY_FILE"`
		Mail           *string `env:"MAIL"`
		Zone           *string `env:"ZONE"`
		ZoneID         *string `env:"ZONE_ID"`
		Record         *string `env:"RECORD"`
		Type           *string `env:"TYPE"`
		PreferredValue *string `env:"PREFERRED_VALUE"`
		ThisValue      *string `env:"THIS_VALUE"`
		OtherValue     *string `env:"OTHER_VALUE"`
		APIURL         *string `env:"API_URL"`
	} `envPrefix:"CLOUDFLARE_"`
	RFC2136 struct {
		Server         *string `env:"SERVER"`
		Zone           *string `env:"ZONE"`
		TSIGName       *string `env:"TSIG_NAME"`
		TSIGSecret     *string `env:"TSIG_SECRET"`
		TSIGSecretFile *string `env:"TSIG_SECRET_FILE"`
		TSIGAlgorithm  *string `env:"TSIG_ALGORITHM"`
		Transport      *string `env:"TRANSPORT"`
	} `envPrefix:"RFC2136_"`
	Pushbullet struct {
		Key     *string `env:"KEY"`
		KeyFile *string `env:"KEY_FILE"`
		Target  struct {
			DeviceIden *string `env:"DEVICE_IDEN"`
			Email      *string `env:"EMAIL"`
			ChannelTag *string `env:"CHANNEL_TAG"`
			ClientIden *string `env:"CLIENT_IDEN"`
		} `envPrefix:"TARGET_"`
		APIURL *string `env:"API_URL"`
	} `envPrefix:"PUSHBULLET_"`
	Log struct {
		Level  *string `env:"LEVEL"`
		Format *string `env:"FORMAT"`
	} `envPrefix:"LOG_"`
	Health struct {
		URL      *string   `env:"URL"`
		TCP      *string   `env:"TCP"`
		Command  *string   `env:"COMMAND"`
		Interval *Duration `env:"INTERVAL"`
		Timeout  *Duration `env:"TIMEOUT"`
		Fall     *int      `env:"FALL"`
		Rise     *int      `env:"RISE"`
	} `envPrefix:"HEALTH_"`
	PeerCheck struct {
		URL     *string   `env:"URL"`
		TCP     *string   `env:"TCP"`
		Timeout *Duration `env:"TIMEOUT"`
	} `envPrefix:"PEER_CHECK_"`
	Hooks struct {
		OnActive   *string   `env:"ON_ACTIVE"`
		OnStandby  *string   `env:"ON_STANDBY"`
		OnPeerDown *string   `env:"ON_PEER_DOWN"`
		OnPeerUp   *string   `env:"ON_PEER_UP"`
		Timeout    *Duration `env:"TIMEOUT"`
	} `envPrefix:"HOOKS_"`
	// The notify list: URLs separated by white space, in the variable or
	// in a file (a line starting with # is a comment). No field of Config
	// has these names: readEnv reads them.
	NotifyURLs         *string   `env:"NOTIFY_URLS"`
	NotifyURLsFile     *string   `env:"NOTIFY_URLS_FILE"`
	HandoverOnStop     *bool     `env:"HANDOVER_ON_STOP"`
	DriftCheckInterval *Duration `env:"DRIFT_CHECK_INTERVAL"`
	RestartGrace       *Duration `env:"RESTART_GRACE"`
	DryRun             *bool     `env:"DRY_RUN"`
	// The members are the file's: a list has no variable.
	Cluster struct {
		Preset *string `env:"PRESET"`
		Listen *string `env:"LISTEN"`
	} `envPrefix:"CLUSTER_"`
	StateDirectory *string `env:"STATE_DIR"`
}

// hookVars are the variables clooster sets for its hooks, not settings.
var hookVars = []string{"CLOOSTER_EVENT", "CLOOSTER_NODE", "CLOOSTER_PEER", "CLOOSTER_RECORD", "CLOOSTER_CONTENT"}

// secretFiles pairs each secret with its _FILE variable.
var secretFiles = []struct{ path, fileVar string }{
	{"key", "CLOOSTER_KEY_FILE"},
	{"status.token", "CLOOSTER_STATUS_TOKEN_FILE"},
	{"cloudflare.token", "CLOOSTER_CLOUDFLARE_TOKEN_FILE"},
	{"cloudflare.key", "CLOOSTER_CLOUDFLARE_KEY_FILE"},
	{"pushbullet.key", "CLOOSTER_PUSHBULLET_KEY_FILE"},
	{"rfc2136.tsig_secret", "CLOOSTER_RFC2136_TSIG_SECRET_FILE"},
}

// alternatives are the one-of groups: a variable that sets the first path of
// one alternative drops the file's values for the other alternatives.
var alternatives = [][][]string{
	{{"cloudflare.token"}, {"cloudflare.key", "cloudflare.mail"}},
	{{"pushbullet.target.device_iden"}, {"pushbullet.target.email"}, {"pushbullet.target.channel_tag"}, {"pushbullet.target.client_iden"}},
	{{"health.url"}, {"health.tcp"}, {"health.command"}},
	{{"peer_check.url"}, {"peer_check.tcp"}},
}

// maxSecretFile bounds a secret read from a _FILE variable.
const maxSecretFile = 64 << 10

// EnvName is the variable for a JSON path: "server.port" → "CLOOSTER_SERVER_PORT".
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// EnvVars lists every variable Load reads, sorted.
func EnvVars() []string {
	params, err := env.GetFieldParamsWithOptions(&envLayer{}, env.Options{Prefix: EnvPrefix})
	if err != nil {
		panic(err) // the tags above are wrong
	}
	out := make([]string, 0, len(params))
	for _, p := range params {
		out = append(out, p.Key)
	}
	slices.Sort(out)
	return out
}

// envValue is one setting from the environment.
type envValue struct {
	path, name string
	v          reflect.Value
}

// readEnv parses the CLOOSTER_* variables of environ; problems and
// warnings go to l.
func (l *loader) readEnv(environ []string) []envValue {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	if len(vars) == 0 {
		return nil
	}
	known := EnvVars()
	var unknown []string
	for k := range vars {
		if _, found := slices.BinarySearch(known, k); !found && !slices.Contains(hookVars, k) {
			unknown = append(unknown, k)
			delete(vars, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		l.warn(k, "unknown variable, ignored")
	}
	if len(vars) == 0 {
		return nil // none of ours
	}

	var e envLayer
	current := "" // the variable being parsed, for the parsers' problems
	parser := func(want string, parse func(string) (any, error)) env.ParserFunc {
		return func(s string) (any, error) {
			v, err := parse(s)
			if err != nil {
				l.addProblem(Problem{Key: current, Value: quote(s), Msg: want})
			}
			return v, err
		}
	}
	err := env.ParseWithOptions(&e, env.Options{
		Environment: vars,
		Prefix:      EnvPrefix,
		OnSet:       func(tag string, _ any, _ bool) { current = tag },
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeFor[int](): parser("want a number", func(s string) (any, error) {
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
				return int(n), err
			}),
			reflect.TypeFor[bool](): parser("want true or false", func(s string) (any, error) {
				return strconv.ParseBool(strings.TrimSpace(s))
			}),
			durationType: parser(errDuration.Error(), func(s string) (any, error) {
				return ParseDuration(s)
			}),
		},
	})
	if err != nil && len(l.problems) == 0 {
		l.addProblem(Problem{Key: "environment", Msg: err.Error()})
	}

	var out []envValue
	collectEnv(reflect.ValueOf(&e).Elem(), configType, "", &out)
	// Addresses that an empty value turns off.
	for _, path := range []string{"status.address", "server.peer_address"} {
		if v, ok := vars[EnvName(path)]; ok && v == "" {
			out = append(out, envValue{path, EnvName(path), reflect.ValueOf("")})
		}
	}
	for _, s := range secretFiles {
		file := vars[s.fileVar]
		if file == "" {
			continue
		}
		direct := EnvName(s.path)
		if vars[direct] != "" {
			l.addProblem(Problem{Key: s.fileVar, Msg: "set only one of " + direct + " and " + s.fileVar})
			continue
		}
		secret, err := readSecretFile(file)
		if err != nil {
			l.addProblem(Problem{Key: s.fileVar, Value: quote(file), Msg: err.Error()})
			continue
		}
		out = append(out, envValue{s.path, s.fileVar, reflect.ValueOf(secret)})
	}
	if ev, ok := l.notifyEnv(vars); ok {
		out = append(out, ev)
	}
	return out
}

// notifyEnv is the notify list from CLOOSTER_NOTIFY_URLS or
// CLOOSTER_NOTIFY_URLS_FILE: it replaces the file's, every channel taking
// every event.
func (l *loader) notifyEnv(vars map[string]string) (envValue, bool) {
	const direct, fileVar = "CLOOSTER_NOTIFY_URLS", "CLOOSTER_NOTIFY_URLS_FILE"
	text, name := vars[direct], direct
	if file := vars[fileVar]; file != "" {
		if text != "" {
			l.addProblem(Problem{Key: fileVar, Msg: "set only one of " + direct + " and " + fileVar})
			return envValue{}, false
		}
		data, _, err := readFile(file, maxSecretFile)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			l.addProblem(Problem{Key: fileVar, Value: quote(file), Msg: "cannot read: " + err.Error()})
			return envValue{}, false
		}
		text, name = string(data), fileVar
	}
	var list []Notify
	for line := range strings.Lines(text) {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, u := range strings.Fields(line) {
			list = append(list, Notify{URL: u})
		}
	}
	if list == nil {
		if name == fileVar {
			l.addProblem(Problem{Key: fileVar, Value: quote(vars[fileVar]), Msg: "no URL in the file"})
		}
		return envValue{}, false // an empty variable counts as unset
	}
	return envValue{"notify", name, reflect.ValueOf(list)}, true
}

// collectEnv lists the set fields of the env layer ev, whose counterpart in
// Config is of type ct at path prefix.
func collectEnv(ev reflect.Value, ct reflect.Type, prefix string, out *[]envValue) {
	if ct.Kind() == reflect.Pointer {
		ct = ct.Elem()
	}
	for i := range ev.NumField() {
		f := ev.Type().Field(i)
		cf, ok := ct.FieldByName(f.Name)
		if !ok {
			continue // a _FILE variable
		}
		path := joinPath(prefix, jsonName(cf))
		fv := ev.Field(i)
		if fv.Kind() == reflect.Struct {
			collectEnv(fv, cf.Type, path, out)
			continue
		}
		if !fv.IsNil() {
			*out = append(*out, envValue{path, EnvName(path), fv.Elem()})
		}
	}
}

// readSecretFile reads a secret, without its trailing newlines.
func readSecretFile(name string) (string, error) {
	data, _, err := readFile(name, maxSecretFile)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("cannot read: %w", err)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", errors.New("file is empty")
	}
	return s, nil
}

// applyEnv sets the environment's values over the file's.
func (l *loader) applyEnv(vals []envValue) {
	set := map[string]bool{}
	for _, ev := range vals {
		set[ev.path] = true
	}
	cv := reflect.ValueOf(l.cfg).Elem()
	for _, group := range alternatives {
		for i, alt := range group {
			if !set[alt[0]] {
				continue
			}
			for j, other := range group {
				if j == i {
					continue
				}
				for _, p := range other {
					if l.fileSet[p] && !set[p] {
						f := fieldByPath(cv, p)
						f.Set(reflect.Zero(f.Type()))
						delete(l.fileSet, p)
					}
				}
			}
		}
	}
	for _, ev := range vals {
		f := fieldByPath(cv, ev.path)
		if f.Kind() == reflect.Pointer {
			p := reflect.New(f.Type().Elem())
			p.Elem().Set(ev.v)
			f.Set(p)
		} else {
			f.Set(ev.v)
		}
		l.envSet[ev.path] = ev.name
	}
}
