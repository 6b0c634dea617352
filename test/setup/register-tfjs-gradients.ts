// The lib test projects are hosts like any app: they register tfjs's gradients before a test runs,
// since libs never register them as an import side effect. tfjs-core publishes its gradients only
// as extensionless ESM (dist/register_all_gradients.js), which Node cannot load; the union package's
// Node bundle registers the same gradients (and chained tensor ops) on the one shared tfjs-core.
import '@tensorflow/tfjs';
