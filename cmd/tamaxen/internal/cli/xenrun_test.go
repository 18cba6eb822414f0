package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// xen-run's scripts run in place from a checkout; from the module cache, which keeps neither
// file modes nor room to write, they run from a copy in the cache, executable where they were.
func TestXenTools(t *testing.T) {
	mod := filepath.Join(t.TempDir(), "tamaxen@v0.1.0")
	files := map[string]string{
		"tools/xenimage/run.sh":         "#!/usr/bin/env bash\necho run\n",
		"tools/xenimage/build.sh":       "#!/usr/bin/env bash\necho build\n",
		"tools/xenimage/recipe.conf":    "packages=xen\n",
		"tools/xenimage/dom0/init":      "#!/bin/bash\n",
		"tools/xenimage/dom0/lib.sh":    "xt_pass() { :; }\n",
		"tools/xentest/xen-run/test.sh": "#!/usr/bin/env bash\n",
		"tools/xentest/httpd/test.sh":   "#!/usr/bin/env bash\n",
		"netfront/device.go":            "package netfront\n",
	}
	for name, data := range files {
		path := filepath.Join(mod, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(data), 0o444))
	}
	env, _, _ := testEnv(t.TempDir())
	cache := t.TempDir()
	env.CacheDir = func() (string, error) { return cache, nil }

	for _, tx := range []listedModule{
		{Path: tamaxenModule, Main: true, Dir: mod},
		{Path: tamaxenModule, Version: placeholderVersion, Dir: mod, Replace: &listedModule{Path: "../tamaxen", Dir: mod}},
	} {
		dir, err := xenTools(env, tx)
		require.NoError(t, err)
		assert.Equal(t, mod, dir, "a checkout is used in place")
	}

	tx := listedModule{Path: tamaxenModule, Version: "v0.1.0", Dir: mod}
	dir, err := xenTools(env, tx)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(cache, "tamaxen", "tools", "tamaxen@v0.1.0"), dir)
	for name, data := range files {
		path := filepath.Join(dir, name)
		switch filepath.Dir(name) {
		case "tools/xentest/httpd", "netfront":
			assert.NoFileExists(t, path, "only what xen-run needs")
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, name)
		assert.Equal(t, data, string(got))
		st, err := os.Stat(path)
		require.NoError(t, err)
		if data[0] == '#' {
			assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), name)
		} else {
			assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), name)
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tools/xenimage/recipe.conf"), []byte("kept\n"), 0o644))
	again, err := xenTools(env, tx)
	require.NoError(t, err)
	assert.Equal(t, dir, again)
	kept, err := os.ReadFile(filepath.Join(dir, "tools/xenimage/recipe.conf"))
	require.NoError(t, err)
	assert.Equal(t, "kept\n", string(kept), "a version's copy is made once")
}
