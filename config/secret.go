package config

import (
	"fmt"
	"os"

	"darkwatch/results/store"
	"darkwatch/results/transport"
)

// StoreDSN is the DSN of the store, with the password of
// store_password_file in it when that is set.
func (c *Config) StoreDSN() (string, error) {
	dsn := c.Store
	if f := c.StorePasswordFile; f != "" {
		pw, err := readPrivateSecret("store_password_file", f)
		if err != nil {
			return "", err
		}
		if dsn, err = store.WithPassword(dsn, pw); err != nil {
			return "", &Error{Key: "store_password_file", Msg: err.Error()}
		}
	}
	return dsn, nil
}

// readPrivateSecret reads a secret of the top level of the configuration
// (store_password_file), refusing a file that its group or others may read
// or write.
func readPrivateSecret(key, file string) (string, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", &Error{Key: key, Msg: err.Error()}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", &Error{Key: key, Msg: fmt.Sprintf("%s is %v: others may read it; chmod 600 it", file, fi.Mode().Perm())}
	}
	s, err := transport.ReadSecret(key, file)
	if err != nil {
		return "", InSection("", err)
	}
	return s, nil
}
