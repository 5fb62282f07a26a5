// manabi info CKPT: what a checkpoint holds.
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "train/checkpoint.h"

int cmd_info(int argc, char **argv) {
    arg_opt_t opts[] = {{0}};
    char *pos[1];
    int npos, rc = cli_parse("info", "CKPT.safetensors", opts, argc, argv, pos, 1, &npos);
    if (rc >= 0) return rc;
    if (npos != 1) return cli_fail("info: give one checkpoint file (see 'manabi help info')");
    gpt_t m;
    ckpt_meta_t meta;
    err_t e = {0};
    if (ckpt_load_model(pos[0], &m, &meta, &e) != 0) return cli_fail(e.msg);
    const gpt_config_t *c = &m.cfg;
    size_t embed = (size_t)c->vocab_size * c->d_model;
    printf("checkpoint   %s\n", pos[0]);
    printf("family       %s\n", gpt_family_name(c->family));
    printf("parameters   %zu (%zu without the token embedding)\n", gpt_num_params(&m), gpt_num_params(&m) - embed);
    printf("vocab_size   %d\ncontext      %d\nlayers       %d\nwidth        %d\nheads        %d\nkv_heads     %d\n"
           "mlp_width    %d\ntied         %s\nnorm_eps     %g\n",
           c->vocab_size, c->context, c->n_layer, c->d_model, c->n_head, c->n_kv_head, c->d_ff,
           c->tie_embeddings ? "yes" : "no", c->norm_eps);
    if (c->family == GPT_LLAMA) printf("rope_theta   %g\n", c->rope_theta);
    printf("tokenizer    %s (hash %016llx)\n", meta.tokenizer[0] ? meta.tokenizer : "(unknown)",
           (unsigned long long)meta.tok_hash);
    printf("step         %lld\n", (long long)meta.step);
    if (meta.has_loss) printf("loss         %.4f\n", meta.loss);
    else printf("loss         (none)\n");
    gpt_free(&m);
    return 0;
}
