package chainpolicypreviewextension

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/chainotel/chainotel/extensions/chainpolicypreviewextension/internal/metadata"
)

// NewFactory returns the factory of the chainpolicypreview extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config { return defaultConfig() }

func create(_ context.Context, set extension.Settings, c component.Config) (extension.Extension, error) {
	return newPolicyPreview(set, c.(*Config))
}
