"""Write the demo corpus's WebVid CSVs as this plugin's JSON Lines.

Usage: python plugins/alpro-example-plugin/tools/make_jsonl.py data/demo
"""
import csv
import json
import os.path as osp
import sys


def main(root: str) -> None:
    for split in ('train', 'val'):
        src = osp.join(root, 'annotations', f'results_demo_{split}.csv')
        dst = osp.join(root, 'annotations', f'demo_{split}.jsonl')
        with open(src, newline='') as f, open(dst, 'w') as out:
            for row in csv.DictReader(f):
                video = f"{row['page_dir']}/{row['videoid']}.mp4"
                out.write(json.dumps(dict(video=video, caption=row['name'])))
                out.write('\n')
        print(f'wrote {dst}')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'data/demo')
